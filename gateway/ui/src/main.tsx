import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, NavLink, Route, Routes } from "react-router-dom";
import { api } from "./api";
import { useLoad } from "./components/Common";
import { Login, SignOut, useSignInNeeded } from "./components/Login";
import { EventHandlers } from "./pages/EventHandlers";
import { Execution } from "./pages/Execution";
import { Executions } from "./pages/Executions";
import { TaskDefPage, TaskDefs } from "./pages/TaskDefs";
import { TaskQueue } from "./pages/TaskQueue";
import { Workbench } from "./pages/Workbench";
import { WorkflowDefPage, WorkflowDefs } from "./pages/WorkflowDefs";
import "./styles.css";

function Nav() {
  const dashboard = useLoad(() => api.dashboard(), []).data;
  const signIn = dashboard?.tokenCommand ? `It asks for a token: \`${dashboard.tokenCommand}\` prints it` : "Actors, nodes and logs";
  return (
    <nav className="nav">
      <span className="brand">Podium</span>
      <NavLink to="/executions">Executions</NavLink>
      <NavLink to="/workflowDefs">Workflows</NavLink>
      <NavLink to="/taskDefs">Tasks</NavLink>
      <NavLink to="/eventHandlerDefs">Event handlers</NavLink>
      <NavLink to="/taskQueue">Queues</NavLink>
      <NavLink to="/workbench">Workbench</NavLink>
      <span className="spacer" />
      <a href="/swagger-ui/index.html" target="_blank" rel="noreferrer">
        API docs
      </a>
      <a href="/api-docs" target="_blank" rel="noreferrer" title="The OpenAPI 3 document of the REST API">
        OpenAPI
      </a>
      {dashboard?.url ? (
        <a href={dashboard.url} target="_blank" rel="noreferrer" title={signIn}>
          Ray dashboard
        </a>
      ) : (
        <span className="muted" title="This Podium's Ray cluster runs no dashboard">
          Ray dashboard (off)
        </span>
      )}
      <SignOut />
    </nav>
  );
}

// Asks for a credential whenever the API answers 401, then loads the page again with it.
function SignInWhenAsked() {
  const [needed, done] = useSignInNeeded();
  if (!needed) return null;
  return (
    <Login
      onSignedIn={() => {
        done();
        window.location.reload();
      }}
    />
  );
}

function NotFound() {
  return <p>No such page.</p>;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <SignInWhenAsked />
      <Nav />
      <main>
        <Routes>
          <Route path="/" element={<Executions />} />
          <Route path="/executions" element={<Executions />} />
          <Route path="/execution/:workflowId" element={<Execution />} />
          <Route path="/workflowDefs" element={<WorkflowDefs />} />
          <Route path="/workflowDef/:name" element={<WorkflowDefPage />} />
          <Route path="/workflowDef/:name/:version" element={<WorkflowDefPage />} />
          <Route path="/taskDefs" element={<TaskDefs />} />
          <Route path="/taskDef/:name" element={<TaskDefPage />} />
          <Route path="/eventHandlerDefs" element={<EventHandlers />} />
          <Route path="/taskQueue" element={<TaskQueue />} />
          <Route path="/taskQueue/:name" element={<TaskQueue />} />
          <Route path="/workbench" element={<Workbench />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </BrowserRouter>
  </StrictMode>,
);
