"""The core SMSBAT API (SPEC Part D, `/bat/…`): a second wire format in front of the same
accounts, intake, engine, rate-limit buckets and status webhooks as the Cascade API.

- `wire`: the request and answer shapes (a tolerant reader of every spelling D3 lists);
- `errors`: the D6 error body and its codes;
- `intake`: a message list becomes committed messages, item by item (D4);
- `status`: a message's status as D5 shows it;
- `routes`: the `/bat` router (authentication, rate limits, the three endpoints).
"""
