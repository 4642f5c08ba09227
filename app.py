"""Huiyuan's Chalice app: blueprints and middleware, nothing else."""

from chalice.app import Chalice

from chalicelib.api.http import cors_config, problem_middleware
from chalicelib.api.routes import (
    actions,
    admin,
    auth,
    bulk,
    campaigns,
    engagement,
    imports,
    members,
    merchants,
    plans,
    product_codes,
    profile,
    public,
    segments,
    sms_receipts,
    surveys,
    transfers,
    wallet,
    webhooks,
    wechat,
    wechat_pay,
    wechat_pay_refunds,
)
from chalicelib.jobs import event_handlers
from chalicelib.jobs import handlers as jobs

app = Chalice(app_name="huiyuan")
app.api.cors = cors_config() or False
app.register_middleware(problem_middleware, "http")
app.register_blueprint(public.bp)
app.register_blueprint(auth.bp)
app.register_blueprint(members.bp)
app.register_blueprint(merchants.bp)
app.register_blueprint(profile.bp)
app.register_blueprint(wallet.bp)
app.register_blueprint(plans.bp)
app.register_blueprint(engagement.bp)
app.register_blueprint(actions.bp)
app.register_blueprint(product_codes.bp)
app.register_blueprint(surveys.bp)
app.register_blueprint(transfers.bp)
app.register_blueprint(admin.bp)
app.register_blueprint(campaigns.bp)
app.register_blueprint(segments.bp)
app.register_blueprint(webhooks.bp)
app.register_blueprint(wechat.bp)  # WeChat sign-in (issue 17)
app.register_blueprint(imports.bp)  # bulk import of members (issue 16)
app.register_blueprint(bulk.bp)  # bulk grants and exports (issue 16)
app.register_blueprint(wechat_pay.bp)  # WeChat Pay top-ups (issue 17)
app.register_blueprint(wechat_pay_refunds.bp)  # WeChat Pay refunds, anomalies (issue 17)
app.register_blueprint(sms_receipts.bp)  # SMS providers' delivery receipts (issue 17)
app.register_blueprint(jobs.bp)
app.register_blueprint(event_handlers.bp)  # business events and webhooks (issue 16)
