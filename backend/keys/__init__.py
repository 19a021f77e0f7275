"""The hub's Ed25519 signing keys, each a keyring: the key that signs now and the
retired keys that still verify what they signed.

- `ring`: a keyring on disk (the current private key, the public keys of all) and its
  rotation;
- `purposes`: which keyring signs what (documents and receipts; audit checkpoints);
- `cli`: `satukartu keys list` and `satukartu keys rotate`.
"""
