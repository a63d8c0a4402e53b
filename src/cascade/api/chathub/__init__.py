"""The ChatHub API (SPEC Part E): live conversations between bot users and a company's
operators, a third wire format in front of the same accounts, bots and rate-limit buckets.

- `tokens`: company and operator JWTs, and who a request or hub connection is
  (`ChatAuth.chat_principal`);
- `wire`: the problem-document error body, reading request bodies, the answers;
- `routes`: the REST routes for tokens, organizations and operators (E1-E2);
- `hub`: the SignalR hub at `/chathub` and its fan-out across API processes (E4).
"""
