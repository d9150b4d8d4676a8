"""Verifies an onsite verdict token with PyJWT against a JWK set: an independent implementation.

Usage: pyjwt_verify.py JWKS_FILE TOKEN_FILE [--sub SESSION] [--iss ISSUER] [--no-audience]

By default it runs the README's portal recipe: EdDSA only, audience "onsite", the issuer and the
session when given, the claims a verdict must carry, and the verdict `typ`. `--no-audience` is the
careless portal that passes no audience, to show a measurement is refused even then.
Prints the claims as JSON and exits 0 when the token verifies; prints the error and exits 1 when not.
"""
import argparse
import json
import sys

import jwt


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("jwks")
    parser.add_argument("token")
    parser.add_argument("--sub")
    parser.add_argument("--iss")
    parser.add_argument("--no-audience", action="store_true")
    args = parser.parse_args()
    with open(args.jwks, encoding="utf-8") as f:
        jwk_set = jwt.PyJWKSet.from_dict(json.load(f))
    with open(args.token, encoding="utf-8") as f:
        token = f.read().strip()
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = next(k for k in jwk_set.keys if k.key_id == kid)
        if args.no_audience:
            claims = jwt.decode(token, key=key.key, algorithms=["EdDSA"])
        else:
            # The README's recipe.
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=["EdDSA"],
                audience="onsite",
                issuer=args.iss,
                subject=args.sub,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
            if jwt.get_unverified_header(token).get("typ") != "JWT":
                raise jwt.InvalidTokenError("not a verdict token (typ)")
    except (jwt.PyJWTError, StopIteration) as error:
        print(f"refused: {type(error).__name__}: {error}")
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
