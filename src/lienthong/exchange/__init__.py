"""The document axis: edXML packages between agencies."""
