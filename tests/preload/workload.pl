# tests/preload/workload.pl: the Perl workload of preload.perl. Builds and
# reshapes large hashes, strings and arrays, runs regexes, and prints only
# deterministic results (sorted keys, digests).
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $x = 12345;
# Our own generator (Park-Miller), so the output does not depend on perl's rand.
sub rnd { $x = ($x * 16807) % 2147483647; return $x; }

my @words = qw(alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu);

# Hashes: insert, grow values, delete half, reinsert.
my %h;
for my $i (1 .. 150_000) {
    my $k = $words[rnd() % 12] . "-" . $i;
    $h{$k} = join(":", map { rnd() % 1000 } 1 .. ($i % 9));
}
for my $k (keys %h) { delete $h{$k} if length($k) % 2; }
$h{"re-$_"} = "v" x ($_ % 500) for 1 .. 50_000;
my @keys = sort keys %h;
print "hash.count: ", scalar(@keys), "\n";
print "hash.keys: ", md5_hex(join("|", @keys)), "\n";
print "hash.values: ", md5_hex(join("|", map { $h{$_} } @keys)), "\n";

# Strings: build, split, join, substitute, reverse.
my @lines = map { sprintf("%s %d %s %x", $words[rnd() % 12], rnd() % 100000,
                          $words[rnd() % 12], rnd()) } 1 .. 100_000;
my $text = join("\n", @lines);
print "text.length: ", length($text), "\n";
(my $upper = $text) =~ s/(\b[a-z]+\b)/\U$1/g;
print "subst.md5: ", md5_hex($upper), "\n";
my @numbers = $text =~ /\b(\d{5})\b/g;
print "regex.matches: ", scalar(@numbers), "\n";
my %counts;
$counts{$_}++ for map { (split / /)[0] } @lines;
print "counts: ", join(",", map { "$_=$counts{$_}" } sort keys %counts), "\n";
my $rev = join("", reverse split //, substr($text, 0, 200_000));
print "reverse.md5: ", md5_hex($rev), "\n";

# Sorting with a custom comparator, and an array of arrays grown piecemeal.
my @sorted = sort { (split / /, $a)[1] <=> (split / /, $b)[1] or $a cmp $b } @lines[0 .. 29_999];
print "sort.md5: ", md5_hex(join("\n", @sorted)), "\n";
my @aoa;
push @{ $aoa[$_ % 1000] }, $_ x 3 for 1 .. 200_000;
print "aoa.md5: ", md5_hex(join(",", map { scalar(@$_) . ":" . $_->[-1] } @aoa)), "\n";
