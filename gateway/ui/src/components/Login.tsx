// The sign-in form shown when the API answers 401 (authentication on, docs/auth.md):
// an application key (traded for a token at POST /api/token), or a bearer token from
// the organisation's identity provider, pasted as is.
import { useEffect, useState } from "react";
import { errorText, session, signIn, UNAUTHORIZED_EVENT } from "../api";

export function useSignInNeeded(): [boolean, () => void] {
  const [needed, setNeeded] = useState(false);
  useEffect(() => {
    const ask = () => setNeeded(true);
    window.addEventListener(UNAUTHORIZED_EVENT, ask);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, ask);
  }, []);
  return [needed, () => setNeeded(false)];
}

export function Login({ onSignedIn }: { onSignedIn: () => void }) {
  const [keyId, setKeyId] = useState("");
  const [keySecret, setKeySecret] = useState("");
  const [bearer, setBearer] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submitKey = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(keyId.trim(), keySecret);
      onSignedIn();
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };
  const submitBearer = (event: React.FormEvent) => {
    event.preventDefault();
    session.keep(bearer.trim().replace(/^Bearer\s+/i, ""));
    onSignedIn();
  };

  return (
    <div className="login-backdrop">
      <div className="login" role="dialog" aria-label="Sign in">
        <h2>Sign in to Podium</h2>
        <p className="muted">This Podium asks for a credential (authentication is on).</p>
        <form onSubmit={submitKey}>
          <label>
            Key id
            <input name="keyId" value={keyId} onChange={(e) => setKeyId(e.target.value)} autoComplete="username" />
          </label>
          <label>
            Key secret
            <input
              name="keySecret"
              type="password"
              value={keySecret}
              onChange={(e) => setKeySecret(e.target.value)}
              autoComplete="current-password"
            />
          </label>
          <button className="primary" type="submit" disabled={busy || !keyId || !keySecret}>
            Sign in
          </button>
        </form>
        <form onSubmit={submitBearer}>
          <label>
            Or a bearer token from your identity provider
            <input name="bearer" type="password" value={bearer} onChange={(e) => setBearer(e.target.value)} />
          </label>
          <button type="submit" disabled={!bearer.trim()}>
            Use this token
          </button>
        </form>
        {error && <p className="error-text">{error}</p>}
      </div>
    </div>
  );
}

export function SignOut() {
  if (!session.token()) return null;
  return (
    <button
      className="link signout"
      onClick={() => {
        session.forget();
        window.location.reload();
      }}
    >
      Sign out
    </button>
  );
}
