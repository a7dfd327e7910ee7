"""Local stand-ins for provider APIs: real HTTP servers on 127.0.0.1, scripted by the tests."""
