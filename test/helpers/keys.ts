/**
 * A real OpenSSH ED25519 public key (made with `ssh-keygen -t ed25519` for the tests; its private
 * half was discarded), standing in for the operator's key where the settings must accept it: the
 * stack files' placeholder is refused at `pulumi up`.
 */
export const TEST_PUBLIC_KEY =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlWwDhSEZ25vQ0or0G2lPCQiZjWTJfckzPvBy2gEsJE stacktune-test@example.com";
