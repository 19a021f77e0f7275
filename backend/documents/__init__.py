"""The city's documents: civil letters, receipts and monthly reports, as signed PDFs.

- `render`: the shared ReportLab building blocks (fonts, letterhead, tables, QR footer);
- `signing`: the city's Ed25519 document key; `issuing`: canonical content, digest,
  signature and the `documents` row; `verification`: is a row or a file genuine;
- `civil`, `receipts`, `reports`: what each kind of paper says and looks like;
- `api`: public verification, copies for holders, receipts, reports; `cli`: reports.
"""
