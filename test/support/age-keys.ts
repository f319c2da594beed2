/** A fresh age key pair for a backup test: how to seal to it and how to open what was sealed. */
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import type { Compression, Opening, SealOptions } from "../../src/backup/index.ts";

export interface AgeKeys {
  identity: string;
  recipient: string;
  seal: SealOptions;
  opening: Opening;
}

export async function ageKeys(compression: Compression = "zstd"): Promise<AgeKeys> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  return {
    identity,
    recipient,
    seal: { compression, sealing: { recipients: [recipient] } },
    opening: { identities: [identity] },
  };
}
