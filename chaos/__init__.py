"""`make chaos`: reference workflows under load while processes are killed; nothing may be lost."""
