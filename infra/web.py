"""The member web app in the cloud: web/dist in a private S3 bucket behind CloudFront, with the
stage's API behind the same distribution, so the app calls /v1/... on its own origin (no CORS,
no second domain for members' phones to trust).

    https://<distribution>/app/...   the bucket (objects under app/), through Origin Access Control
    https://<distribution>/v1/...    the stage's API Gateway (its `api_gateway_stage` path), never cached
    https://<distribution>/          a redirect to /app/
    https://<distribution>/MP_verify_<token>.txt
                                     with the stage's `wechat_mp_verify_token`: the token, as text/plain
                                     (WeChat's check of the web-page authorisation domain, docs/wechat.md)

Pages of the app (/app/home, /app/profile...) are index.html: a CloudFront Function rewrites a
path under /app/ whose last segment has no file extension, so the app's router reads the path
(S3 would answer 403 for a key it does not hold). Hashed files under /app/assets/ are cached a
year, everything else revalidated, as the local stage serves them (localstage/webapp.py,
whose Content-Security-Policy this reuses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct, IConstruct

from chalicelib.api.caller_address import ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER
from localstage.webapp import CONTENT_SECURITY_POLICY, IMMUTABLE, PREFIX, REVALIDATE, WEB_DIST, mp_verify_path

from .nag import acknowledge
from .stages import chalice_stage_value

if TYPE_CHECKING:
    from .stack import HuiyuanStack

# Viewer request on the bucket's behaviour: / and /app to /app/; a page of the app to index.html.
SPA_REWRITE = """function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === '/' || uri === '__PREFIX__') {
    return {statusCode: 308, statusDescription: 'Permanent Redirect', headers: {location: {value: '__PREFIX__/'}}};
  }
  if (uri.indexOf('__PREFIX__/') === 0) {
    var last = uri.substring(uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') === -1 && uri.indexOf('__PREFIX__/assets/') !== 0) {
      request.uri = '__PREFIX__/index.html';
    }
  }
  return request;
}
""".replace("__PREFIX__", PREFIX)


# Viewer request on the API's behaviour: the viewer's address, from CloudFront itself, in a header
# the API believes only with the origin secret (api/caller_address.py). Set, never appended: a
# viewer's own x-huiyuan-viewer-address is overwritten.
VIEWER_ADDRESS = """function handler(event) {
  var request = event.request;
  request.headers['__HEADER__'] = {value: event.viewer.ip};
  return request;
}
""".replace("__HEADER__", VIEWER_ADDRESS_HEADER)


# Viewer request on the one behaviour of WeChat's verification file: the token, answered at the edge.
# A function rather than an object in the bucket: the deployment's role stays limited to app/ (an
# object at the root would need a second deployment, its own handler and role with rights on the
# bucket's root, and pruning of the old token's file); the bucket and its policy are unchanged.
# The token is letters and digits only (infra/stages.py refuses anything else), so it is safe
# inside the JavaScript string.
MP_VERIFY = """function handler(event) {
  return {
    statusCode: 200,
    statusDescription: 'OK',
    headers: {
      'content-type': {value: 'text/plain'},
      'cache-control': {value: '__CACHE__'},
      'x-content-type-options': {value: 'nosniff'}
    },
    body: {encoding: 'text', data: '__TOKEN__'}
  };
}
"""


def mp_verify_function_code(token: str) -> str:
    """The CloudFront Function answering /MP_verify_<token>.txt; ValueError for a bad token."""
    mp_verify_path(token)
    return MP_VERIFY.replace("__CACHE__", REVALIDATE).replace("__TOKEN__", token)


DEPLOY_HANDLER = (
    "CDK's BucketDeployment handler runs only while CloudFormation deploys this stack, invoked synchronously by it "
    "(a failure fails and rolls back the deploy): it copies the build from the CDK asset bucket into the web bucket and "
    "invalidates the pages. It reaches no network resource and holds no secret in its environment (bucket names), so a "
    "VPC, a dead-letter queue, a reservation or a customer-managed environment key adds nothing."
)
NO_CLOUDFRONT_WAF = (
    "A web ACL for CloudFront must be created in us-east-1, and the stage deploys to its own region: the API behind "
    "/v1/ is protected by the stage's regional WAF and throttling (infra/firewall.py); the bucket's files are public "
    "app code. A brand that wants edge filtering adds a us-east-1 stack with a CLOUDFRONT-scope ACL."
)
NO_WAF_AT_ALL = (
    "This stage runs without a web ACL (web_acl=False in infra/stages.py, the cheaper setting of docs/cost.md): the "
    "API behind /v1/ has API Gateway's throttle and the app's own code-sending limits, and the bucket's files are "
    "public app code. A web ACL for CloudFront must in any case be created in us-east-1, and the stage deploys to its own region."
)
DEFAULT_CERTIFICATE = (
    "The distribution uses CloudFront's default *.cloudfront.net certificate, whose security policy CloudFront fixes. "
    "A brand's own domain comes with an ACM certificate in us-east-1, and then minimum_protocol_version=TLS_V1_2_2021."
)


def accept_checkov(construct: IConstruct, reasons: dict[str, str]) -> None:
    """checkov's findings accepted on this resource, with their reasons, where checkov reads them
    (`Metadata.checkov.skip`, as infra/checkov_skips.py writes the stack's own)."""
    resource = construct if isinstance(construct, cdk.CfnResource) else construct.node.default_child
    assert isinstance(resource, cdk.CfnResource), construct.node.path
    resource.add_metadata("checkov", {"skip": [{"id": check, "comment": reason} for check, reason in sorted(reasons.items())]})


class WebApp(Construct):
    """The bucket, its deployment from web/dist, and the distribution that serves it with the API."""

    def __init__(self, stack: HuiyuanStack, construct_id: str = "WebApp") -> None:
        super().__init__(stack, construct_id)
        # S3 server access logs are delivered under a bucket policy, not the legacy ACL (CDK's feature flag,
        # set for this construct's buckets only).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        if not (WEB_DIST / "index.html").is_file():
            raise RuntimeError(f"{WEB_DIST} is not built: `make web` builds the member web app before synth")
        stage = stack.stage
        # The buckets outlive the stack, in every stage: emptying them on delete would take another
        # custom resource with wildcard S3 rights. After destroying a dev stage, delete them by hand.
        expire_logs = [
            s3.LifecycleRule(
                expiration=cdk.Duration.days(stage.log_retention_days), noncurrent_version_expiration=cdk.Duration.days(stage.log_retention_days)
            )
        ]
        # The buckets' own access logs (S3 server access logging writes under a bucket policy).
        self.logs = self._private_bucket("Logs", object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, lifecycle_rules=expire_logs)
        # CloudFront's standard logs are written with an ACL: this bucket accepts object writers' ACLs.
        self.cdn_logs = self._private_bucket(
            "CdnLogs",
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="cdn-logs/",
            lifecycle_rules=expire_logs,
        )
        self.bucket = self._private_bucket(
            "Assets",
            # A deploy replaces the build: the previous one stays as noncurrent versions for a month (a rollback by hand).
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30))],
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="web/",
        )

        security_headers = cloudfront.ResponseSecurityHeadersBehavior(
            content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(content_security_policy=CONTENT_SECURITY_POLICY, override=True),
            content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
            referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True),
            strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                access_control_max_age=cdk.Duration.days(365), include_subdomains=False, override=True
            ),
        )

        def headers_policy(name: str, cache_control: str) -> cloudfront.ResponseHeadersPolicy:
            return cloudfront.ResponseHeadersPolicy(
                self,
                f"{name}Headers",
                response_headers_policy_name=f"huiyuan-{stage.name}-web-{name.lower()}",
                comment=f"Huiyuan {stage.name} member web app: security headers, Cache-Control {cache_control}",
                security_headers_behavior=security_headers,
                custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                    custom_headers=[cloudfront.ResponseCustomHeader(header="Cache-Control", value=cache_control, override=True)]
                ),
            )

        bucket_origin = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        rewrite = cloudfront.Function(
            self,
            "PagesToIndex",
            function_name=f"huiyuan-{stage.name}-web-pages",
            comment="/ and /app to /app/; a page of the app (no file extension) to /app/index.html",
            code=cloudfront.FunctionCode.from_inline(SPA_REWRITE),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        viewer_address = cloudfront.Function(
            self,
            "ViewerAddress",
            function_name=f"huiyuan-{stage.name}-web-viewer-address",
            comment=f"The viewer's address in {VIEWER_ADDRESS_HEADER} for the API's per-client limits (overwrites the viewer's)",
            code=cloudfront.FunctionCode.from_inline(VIEWER_ADDRESS),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        api = stack.chalice.get_resource("RestAPI")
        api_origin = origins.HttpOrigin(
            cdk.Fn.sub("${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}", {"Api": api.ref}),
            origin_path="/" + str(chalice_stage_value(stage.name, "api_gateway_stage", "api")),
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            # Proves to the API (and its WAF) that the request came through this distribution: CloudFront
            # adds it to every origin request, replacing a viewer's header of the same name. A dynamic
            # reference: CloudFormation resolves it at deploy, the template holds no value.
            custom_headers={ORIGIN_VERIFY_HEADER: stack.origin_secret.secret_value.unsafe_unwrap()},
        )
        additional_behaviors = {
            f"{PREFIX.lstrip('/')}/assets/*": cloudfront.BehaviorOptions(
                origin=bucket_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers_policy("Assets", IMMUTABLE),
                compress=True,
            ),
            # The API: every method, nothing cached, every viewer header but Host (API Gateway
            # routes by its own host name); with caching off the Authorization header goes through.
            "v1/*": cloudfront.BehaviorOptions(
                origin=api_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                # A managed allExcept policy cannot add CloudFront-Viewer-Address (only viewer headers), and
                # an allow-list one would have to name every header the API reads: the function sets our own.
                function_associations=[
                    cloudfront.FunctionAssociation(function=viewer_address, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)
                ],
                compress=True,
            ),
        }
        token = stage.wechat_mp_verify_token
        if token is not None:
            # Exactly this one path (a path pattern without wildcards); the function answers before the
            # origin is asked, so the bucket never sees the request.
            mp_verify = cloudfront.Function(
                self,
                "WeChatDomainVerification",
                function_name=f"huiyuan-{stage.name}-web-mp-verify",
                comment="WeChat's web-page authorisation domain check: /MP_verify_<token>.txt answers the token",
                code=cloudfront.FunctionCode.from_inline(mp_verify_function_code(token)),
                runtime=cloudfront.FunctionRuntime.JS_2_0,
            )
            additional_behaviors[mp_verify_path(token).lstrip("/")] = cloudfront.BehaviorOptions(
                origin=bucket_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                function_associations=[cloudfront.FunctionAssociation(function=mp_verify, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)],
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"Huiyuan {stage.name}: member web app (/app/) and API (/v1/)",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
            enable_logging=True,
            log_bucket=self.cdn_logs,
            default_behavior=cloudfront.BehaviorOptions(
                origin=bucket_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers_policy("Pages", REVALIDATE),
                function_associations=[cloudfront.FunctionAssociation(function=rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)],
                compress=True,
            ),
            additional_behaviors=additional_behaviors,
        )

        self.deployment = self._deployment(stack)
        self.url = f"https://{self.distribution.distribution_domain_name}{PREFIX}/"
        cdk.CfnOutput(stack, "WebAppUrl", value=self.url, description="The member web app (H5 member centre)")
        cdk.CfnOutput(stack, "WebAppBucketName", value=self.bucket.bucket_name)
        self._acknowledge(stack)

    def _private_bucket(self, construct_id: str, **options: Any) -> s3.Bucket:
        """A bucket of this construct: S3-managed encryption, no public access, TLS only, versioned,
        kept when the stack is deleted; `options` add to that."""
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            **options,
        )

    def _acknowledge(self, stack: HuiyuanStack) -> None:
        acknowledge(
            self.logs,
            "AwsSolutions-S1",
            "This is the access-log bucket of the web app's other buckets: logging its own access would loop.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "Members are wherever the brand's customers are: no country is refused. A brand that must limit it adds a geo restriction here.",
        )
        no_waf = NO_CLOUDFRONT_WAF if stack.stage.web_acl else NO_WAF_AT_ALL
        acknowledge(self.distribution, "AwsSolutions-CFR2", no_waf)
        acknowledge(self.distribution, "AwsSolutions-CFR4", DEFAULT_CERTIFICATE)
        acknowledge(
            self.deploy_role,
            f"AwsSolutions-IAM5[Resource::<{stack.get_logical_id(self.bucket.node.default_child)}.Arn>/{self.key_prefix}*]",  # type: ignore[arg-type]
            "The deployment copies the build into the web bucket and removes what the new build no longer has: "
            "any object under app/ in this stage's web bucket, nothing else.",
        )
        for child in stack.node.children:  # BucketDeployment's handler, a singleton at the stack's root
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(
                    child,
                    "AwsSolutions-L1",
                    "The BucketDeployment handler's runtime is chosen by aws-cdk-lib (pinned in infra/requirements.txt) and moves with its upgrades.",
                )
                accept_checkov(child, {check: DEPLOY_HANDLER for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173")})
        accept_checkov(self.logs, {"CKV_AWS_18": "This is the access-log bucket of the web app's other buckets: logging its own access would loop."})
        accept_checkov(self.distribution, {"CKV_AWS_68": no_waf, "CKV_AWS_174": DEFAULT_CERTIFICATE})

    @property
    def key_prefix(self) -> str:
        return PREFIX.lstrip("/") + "/"

    def _deployment(self, stack: HuiyuanStack) -> s3_deployment.BucketDeployment:
        """web/dist into the bucket under app/ (pruning what the new build dropped), then the pages invalidated.

        The handler's role is this one, with exactly what the copy needs; CDK's own grants (s3 action
        groups, invalidations on "*") are not added to it.
        """
        # Not the build's manifest (dist/.vite/, read by `make bench`): the app never loads it.
        build = s3_assets.Asset(self, "Build", path=str(WEB_DIST), exclude=[".vite"])
        log_group = stack.log_group("WebAppDeployLogs")  # the stage's retention, and its data key when it has one
        distribution_arn = stack.format_arn(service="cloudfront", region="", resource="distribution", resource_name=self.distribution.distribution_id)
        self.deploy_role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Huiyuan {stack.stage.name}: copies the member web app's build into its bucket on deploy",
            inline_policies={
                "deploy": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                        ),
                        iam.PolicyStatement(
                            sid="ReadTheBuild", actions=["s3:GetObject"], resources=[build.bucket.arn_for_objects(build.s3_object_key)]
                        ),
                        iam.PolicyStatement(
                            sid="ListTheApp",
                            actions=["s3:ListBucket"],
                            resources=[self.bucket.bucket_arn],
                            conditions={"StringLike": {"s3:prefix": [self.key_prefix, f"{self.key_prefix}*"]}},
                        ),
                        iam.PolicyStatement(
                            sid="SyncTheApp",
                            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                            resources=[self.bucket.arn_for_objects(f"{self.key_prefix}*")],
                        ),
                        iam.PolicyStatement(
                            sid="InvalidateThePages",
                            actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"],
                            resources=[distribution_arn],
                        ),
                    ]
                )
            },
        )
        return s3_deployment.BucketDeployment(
            self,
            "Deploy",
            sources=[s3_deployment.Source.bucket(build.bucket, build.s3_object_key)],
            destination_bucket=self.bucket,
            destination_key_prefix=self.key_prefix,
            distribution=self.distribution,
            distribution_paths=[f"{PREFIX}/*", PREFIX],
            prune=True,
            memory_limit=256,
            role=self.deploy_role.without_policy_updates(),
            log_group=log_group,
        )
