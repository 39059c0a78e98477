"""The data-protection officer's console (`/dpo`) and the accounts that may sign in to it."""
