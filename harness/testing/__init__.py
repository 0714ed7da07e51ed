"""Test doubles for exercising the harness without real model endpoints."""
