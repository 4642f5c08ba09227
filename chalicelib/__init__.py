"""Huiyuan: serverless membership and loyalty."""
