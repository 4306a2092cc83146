"""Administration: the controlled vocabularies admins may extend."""
