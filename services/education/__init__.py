"""Education stipend: per student per semester, paid into the student's own account."""

from services.education.module import module

__all__ = ["module"]
