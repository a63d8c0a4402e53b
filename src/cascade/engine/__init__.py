"""The delivery engine: walks each message through its route, crash-safely."""
