"""edXML of QCVN 102:2016: a tolerant streaming reader and a strict writer."""

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
