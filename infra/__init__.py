"""Huiyuan's AWS CDK app: one stack per stage (infra/stages.py), built by infra/app.py."""
