"""Audit: every access to the FHIR API becomes an AuditEvent resource.

- :mod:`.events`: the AuditEvent for one access (FHIR R4, DICOM audit codes);
- :mod:`.recorder`: records each REST request in the outbox before its response is sent;
- :mod:`.drain`: moves outbox rows into AuditEvent resources through the repository.
"""
