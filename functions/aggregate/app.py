"""Placeholder: the aggregate handler is written by its owner."""


def lambda_handler(event, context):
    raise NotImplementedError
