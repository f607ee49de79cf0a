"""`podium keys`: application keys for a Podium with authentication on (docs/auth.md).

podium keys create NAME --role ROLE     prints {"id", "secret", ...} once; keep the secret
podium keys list
podium keys revoke ID

The CLI authenticates with the key in PODIUM_KEY_ID and PODIUM_KEY_SECRET (an admin's).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

ROLES = ("admin", "user", "metadata", "worker")
Call = Callable[[str, str, Any], Any]


def add_parser(commands: Any, api_url: Callable[[argparse.Namespace], str], call: Call) -> None:
    keys = commands.add_parser("keys", help="application keys (authentication on): create, list, revoke")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key; prints its id and secret as JSON")
    create.add_argument("name")
    create.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", help="the keys (never their secrets)")
    revoke = actions.add_parser("revoke", help="revoke a key: its tokens stop working within seconds")
    revoke.add_argument("id")

    def run(args: argparse.Namespace) -> int:
        base = api_url(args) + "/auth/keys"
        if args.action == "create":
            print(json.dumps(call("POST", base, {"name": args.name, "role": args.role}), indent=2))
        elif args.action == "list":
            print(json.dumps(call("GET", base, None), indent=2))
        else:
            call("DELETE", f"{base}/{args.id}", None)
            print(f"revoked {args.id}")
        return 0

    keys.set_defaults(handler=run)
