"""Programmes at run time: admins enable, disable and re-set them without a restart.

- `models`: the overrides (`programme_settings`), their history, the change counter;
- `live`: how each hub process lays the overrides over the city's configuration and
  notices a change (one primary-key read at most every SATUKARTU_PROGRAMME_REFRESH_MS);
- `settings`: `apply_change` (the one writer), `describe`/`list_programmes` (what a
  console shows), `needs_approval`;
- `api`, `cli`: `/api/v1/programmes` and `satukartu programme`.
"""
