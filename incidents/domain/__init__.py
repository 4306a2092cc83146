"""The rules of the field, apart from storage and HTTP: casualty ranges, dates, duplicates, the map's grid."""
