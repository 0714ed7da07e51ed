"""What the session-wide record schema check (conftest.py) and the tests that opt out of it share."""

# A directory holding this file keeps record files a test wrote wrong on purpose (another schema
# version, a torn write) out of the session-wide schema check.
NOT_A_RECORD = ".not-a-record"
