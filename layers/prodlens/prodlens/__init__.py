"""ProdLens: a serverless lake that asks whether AI coding assistants move delivery outcomes."""

__version__ = "0.1.0"
