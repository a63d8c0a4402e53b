"""The provider's own Python client, verbatim from seeds/003 ("Ví dụ triển khai" → Python).

The one change: `base_url` is a constructor parameter (the seed hard-codes the provider's
host), as SPEC says clients must work "unchanged, except for the base URL and the key".
Quotes are as `ruff format` writes them; the calls carry no timeout, as in the seed.
"""

import requests


class CascadeMessenger:
    def __init__(self, api_key, base_url="https://restapi.smsbat.com"):
        self.base_url = base_url
        self.headers = {"Content-Type": "application/json", "X-Authorization-Key": api_key}

    def send_message(
        self, tracking_id, from_name, to_phone, message_type, text, ttl=None, scheduled=None
    ):
        """Send single cascade message"""
        message = {
            "id": tracking_id,
            "fromName": from_name,
            "toPhone": to_phone,
            "messageType": message_type,
            "text": text,
        }

        if ttl:
            message["ttl"] = ttl

        if scheduled:
            message["scheduledSent"] = scheduled.isoformat()

        response = requests.post(  # noqa: S113 - verbatim: the seed sets no timeout
            f"{self.base_url}/api/CascadeMessage/send_message/async",
            headers=self.headers,
            json=[message],
        )

        response.raise_for_status()
        return response.json()[0]

    def send_bulk(self, messages):
        """Send multiple messages"""
        response = requests.post(  # noqa: S113 - verbatim: the seed sets no timeout
            f"{self.base_url}/api/CascadeMessage/send_message/async",
            headers=self.headers,
            json=messages,
        )

        response.raise_for_status()
        return response.json()
