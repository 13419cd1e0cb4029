"""Views: what the user reads (orch status, the report, exports), built from the layers below."""
