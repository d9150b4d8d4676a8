"""Verifies an onsite verdict token with PyJWT against a JWK set: an independent implementation.

Usage: pyjwt_verify.py JWKS_FILE TOKEN_FILE
Prints the claims as JSON and exits 0 when the token verifies; prints the error and exits 1 when not.
"""
import json
import sys

import jwt


def main() -> int:
    jwks_path, token_path = sys.argv[1], sys.argv[2]
    with open(jwks_path, encoding="utf-8") as f:
        jwk_set = jwt.PyJWKSet.from_dict(json.load(f))
    with open(token_path, encoding="utf-8") as f:
        token = f.read().strip()
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = next(k for k in jwk_set.keys if k.key_id == kid)
        claims = jwt.decode(token, key=key.key, algorithms=["EdDSA"], audience="onsite")
    except (jwt.PyJWTError, StopIteration) as error:
        print(f"refused: {type(error).__name__}: {error}")
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
