"""Logger and metrics singletons, in a neutral module every layer may import."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="prodlens")
metrics = Metrics(namespace="ProdLens", service="prodlens")
