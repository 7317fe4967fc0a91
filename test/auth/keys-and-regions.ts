/** Object keys that stress encoding: %, spaces, =, +, unicode, and the characters SDKs escape differently. */
export const TRICKY_KEYS = [
  'plain/part-00000.parquet',
  'year=2024/month=01/part 0000 a.parquet',
  'hive%3A/col=a%2Fb/100%.parquet',
  'c++/a+b=c d.txt',
  'unicode/été ✓ 日本/ü.txt',
  "punct/quote's (1)*!~$&,;@.txt",
];

export const REGIONS = ['us-east-1', 'eu-west-3', 'auto', 'garage'];
