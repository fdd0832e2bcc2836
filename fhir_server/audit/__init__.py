"""Audit: every access to patient data, through the FHIR API or not, becomes an AuditEvent resource.

- :mod:`.events`: the AuditEvent for one REST access (FHIR R4, DICOM audit codes);
- :mod:`.activity`: the AuditEvents of the adapters, the ML module and the CLI, queued in
  the transaction that writes their data;
- :mod:`.recorder`: records each REST request in the outbox before its response is sent;
- :mod:`.outbox`: the durable queue all of them write to;
- :mod:`.drain`: moves outbox rows into AuditEvent resources through the repository.
"""
