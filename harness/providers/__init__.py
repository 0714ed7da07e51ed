"""The only code that talks to model endpoints: the chat client, the batch API, the local model server."""
