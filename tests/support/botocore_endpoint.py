#!/usr/bin/env python3
"""The URL botocore (the AWS CLI's resolver) would call for GetAuthorizationToken.

Reads a JSON list of cases on stdin, each
  {"service": "ecr" | "ecr-public", "region": "...", "fips": bool, "dual_stack": bool,
   "env": {"AWS_...": "..."}, "config": "<~/.aws/config text>"}
and prints a JSON list of {"url": "https://host[:port]"} or {"error": "..."}, one per case; an
error from botocore's legacy endpoint table also gives {"rules_url": ...}, what botocore's
endpoint rules (the ones the SDKs share) resolve for the same settings.

`fips`/`dual_stack` are what the registry host's own form asks for (`dkr.ecr-fips`,
`dkr-ecr`): they are passed as the client's `Config`, the way a caller that knows the host
would ask botocore; the environment and the config file carry the user's settings.

Nothing is sent: a `before-send` handler records the request's URL and stops it there.
"""

import json
import os
import sys
import tempfile

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.endpoint_provider import EndpointProvider
from botocore.exceptions import EndpointVariantError


class Stop(Exception):
    pass


def endpoint(loader, case, config_path):
    session = None
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(case.get("env", {}))
    with open(config_path, "w") as f:
        f.write(case.get("config", ""))
    os.environ["AWS_CONFIG_FILE"] = config_path
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = config_path + ".absent"
    variant = {}
    if case.get("fips"):
        variant["use_fips_endpoint"] = True
    if case.get("dual_stack"):
        variant["use_dualstack_endpoint"] = True
    seen = {}

    def record(request, **_):
        seen["url"] = request.url
        raise Stop()

    try:
        # A Session per case: it caches the config file and the variables it read. They share
        # the loader of botocore's data files (static), which is most of a Session's cost.
        session = botocore.session.Session()
        session.register_component("data_loader", loader)
        client = session.create_client(
            case["service"],
            region_name=case["region"],
            aws_access_key_id="AKIDBOTOCORE",
            aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 0}, **variant),
        )
        client.meta.events.register("before-send", record)
        try:
            client.get_authorization_token()
        except Stop:
            pass
    except EndpointVariantError as e:
        # Refused by botocore's legacy endpoint table (endpoints.json) before its endpoint
        # rules run: also say what those rules give for the same region and flags.
        return {"error": f"{type(e).__name__}: {e}", "rules_url": rules_url(loader, session, case)}
    except Exception as e:  # botocore refused the settings: the answer is that refusal
        return {"error": f"{type(e).__name__}: {e}"}
    return {"url": seen["url"].rstrip("/")}


def rules_url(loader, session, case):
    """What botocore's own endpoint rules give for the case, or None if they refuse too."""
    flag = lambda name: str(session.get_config_variable(name)).lower() == "true"
    provider = EndpointProvider(
        loader.load_service_model(case["service"], "endpoint-rule-set-1"),
        loader.load_data("partitions"),
    )
    try:
        return provider.resolve_endpoint(
            Region=case["region"],
            UseFIPS=bool(case.get("fips")) or flag("use_fips_endpoint"),
            UseDualStack=bool(case.get("dual_stack")) or flag("use_dualstack_endpoint"),
        ).url.rstrip("/")
    except Exception:
        return None


def main():
    cases = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "config")
        loader = botocore.loaders.create_loader()
        json.dump([endpoint(loader, c, path) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
