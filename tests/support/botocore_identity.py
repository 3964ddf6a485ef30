#!/usr/bin/env python3
"""What the AWS CLI would get: botocore's credential chain, in this process's environment,
calling ECR's GetAuthorizationToken at AWS_ENDPOINT_URL_ECR (the emulator).

Usage: botocore_identity.py REGION [PROFILE]
PROFILE is what `aws --profile PROFILE` passes (an explicit profile). Prints one JSON line:
{"password": "..."} (the token's password, which names the account the emulator answered
for) or {"error": "ExceptionClass", "message": "..."}.
"""

import base64
import json
import sys

import botocore.session


def main():
    region = sys.argv[1]
    profile = sys.argv[2] if len(sys.argv) > 2 else None
    try:
        session = botocore.session.Session(profile=profile)
        client = session.create_client("ecr", region_name=region)
        data = client.get_authorization_token()["authorizationData"][0]
        _, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        print(json.dumps({"password": password}))
    except Exception as e:  # every failure is one outcome: the CLI refused
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))


if __name__ == "__main__":
    main()
