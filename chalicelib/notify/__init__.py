"""Outgoing messages: SMS (SNS), email (SES), and the local outbox."""
