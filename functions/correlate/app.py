"""Placeholder: the correlate handler is written by its owner."""


def lambda_handler(event, context):
    raise NotImplementedError
