"""E-mail in: mailboxes (``sources``), reading a mail (``message``) and turning it into
tickets and comments (``receive``)."""
