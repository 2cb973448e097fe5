"""Pieces shared by the CRM connectors: HTTP with bounded retries, export files, mapping helpers.

This package registers nothing itself; the Salesforce and HubSpot plugins build on it.
"""
