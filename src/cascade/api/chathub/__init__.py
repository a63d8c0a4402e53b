"""ChatHub (SPEC Part E): live conversations between bot users and a business's operators."""
