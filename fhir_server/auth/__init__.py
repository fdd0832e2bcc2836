"""SMART on FHIR authorization: the authorization server and the policy every request is held to.

- :mod:`.scopes`: SMART v1/v2 scope grammar, narrowing a request to a client's scopes;
- :mod:`.keys`, :mod:`.tokens`: signing keys in the database, access-token JWTs (joserfc);
- :mod:`.clients`, :mod:`.client_auth`: registered clients and users, client authentication;
- :mod:`.endpoints`: ``/auth/...`` (token, JWKS, introspection, revocation) and discovery;
- :mod:`.bearer`: every FHIR request's token becomes its :class:`RequestContext`;
- :mod:`.policy`: what the token's scopes and launch context reach, enforced by the repository;
- :mod:`.cors`: CORS for browser apps and security headers;
- :mod:`.cli`: ``fhir-server auth ...``.
"""
