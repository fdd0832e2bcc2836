"""FHIR operations beyond the RESTful interactions: ``$everything`` and ``$lastn``.

Each module holds its ``OperationDefinition`` URL and works on a repository, without Flask.
"""

from __future__ import annotations

__all__: list[str] = []
