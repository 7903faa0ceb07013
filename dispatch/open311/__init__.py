"""Open311 GeoReport v2: other applications list our services, file requests and follow them.

- ``keys``: the API keys admins issue to named applications, their rate limit and the log of uses;
- ``services``: the catalogue as Open311 services and their definitions (attributes);
- ``submit``: a POSTed request through the same intake as every order, or kept for the call
  centre (a token) when it cannot become an order yet; ``pending``: the call centre's side of
  those, and what a token says;
- ``public``: orders as the public sees them (no name, phone or exact address);
- ``render``: the spec's JSON and XML, errors included;
- ``api`` and ``admin_api``: the HTTP routes; ``edge``: the spec's error format and the key log at
  the edge of every ``/open311/v2/`` request.
"""
