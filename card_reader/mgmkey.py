"""The management key's block cipher, shared by the client and the virtual card.

PIV mutual authentication encrypts single blocks with the 9B key (3DES or AES-128)
in ECB mode: one block, no chaining, so ECB is what the standard specifies.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from card_reader.piv import MGMT_BLOCK_SIZES, MGMT_KEY_LENGTHS, Algorithm


def _cipher(algorithm: Algorithm, key: bytes) -> Cipher:
    if MGMT_KEY_LENGTHS.get(Algorithm(algorithm)) != len(key):
        raise ValueError("management key length does not fit its algorithm")
    algo = TripleDES(key) if algorithm == Algorithm.TDES else algorithms.AES(key)
    return Cipher(algo, modes.ECB())  # noqa: S305 - single-block PIV witness/challenge


def block_size(algorithm: Algorithm) -> int:
    return MGMT_BLOCK_SIZES[Algorithm(algorithm)]


def encrypt_block(algorithm: Algorithm, key: bytes, block: bytes) -> bytes:
    enc = _cipher(algorithm, key).encryptor()
    return enc.update(block) + enc.finalize()


def decrypt_block(algorithm: Algorithm, key: bytes, block: bytes) -> bytes:
    dec = _cipher(algorithm, key).decryptor()
    return dec.update(block) + dec.finalize()
