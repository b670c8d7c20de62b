<?php
// PHP FFI smoke test of include/biv_php.h, run by tests/php_ffi.rs:
//   php -d ffi.enable=1 smoke.php <biv_php.h> <libbiv_ffi.so> <expected version>
// Prints one line per check and exits 0 only if every check passed.

declare(strict_types=1);

[$script, $header, $library, $expectedVersion] = $argv;

$failures = 0;
function check(bool $cond, string $what): void
{
    global $failures;
    if ($cond) {
        echo "ok: $what\n";
    } else {
        echo "FAILED: $what\n";
        $failures++;
    }
}

// FFI::cdef parses the header and resolves every function in the library up front.
$ffi = FFI::cdef(file_get_contents($header), $library);
check(true, 'FFI::cdef parses biv_php.h and resolves every function');

// const char* return values arrive as PHP strings.
check($ffi->biv_version() === $expectedVersion, 'biv_version equals the crate version');

// Enum constants are readable from PHP.
check($ffi->BIV_OK === 0 && $ffi->BIV_INSUFFICIENT_SIZE === 7003, 'enum constants are readable');

$buf = FFI::new('char[128]');
$n = FFI::new('size_t');
$rc = $ffi->biv_result_message($ffi->BIV_NULL_PARAMETER, $buf, 128, FFI::addr($n));
check($rc === $ffi->BIV_OK, 'biv_result_message succeeds');
check(FFI::string($buf, $n->cdata) === 'a required pointer parameter was NULL', 'the message text');

$rc = $ffi->biv_result_message(4242, $buf, 128, FFI::addr($n));
check($rc === 0 && FFI::string($buf, $n->cdata) === 'unknown result code', 'an unknown code');

// Size query, then a buffer of exactly the size asked for.
$rc = $ffi->biv_result_message(0, null, 0, FFI::addr($n));
check($rc === $ffi->BIV_INSUFFICIENT_SIZE && $n->cdata === 8, 'the size query');
$exact = FFI::new('char[' . $n->cdata . ']');
$rc = $ffi->biv_result_message(0, $exact, $n->cdata, FFI::addr($n));
check($rc === 0 && FFI::string($exact, $n->cdata) === 'success', 'the exact-size retry');

check($ffi->biv_result_message(0, $buf, 128, null) === $ffi->BIV_NULL_PARAMETER, 'a NULL out_n');

$rc = $ffi->biv_last_error_message($buf, 128, FFI::addr($n));
check($rc === 0 && $n->cdata === 0, 'no last-error detail before any failure');

if ($failures !== 0) {
    echo "$failures check(s) failed\n";
    exit(1);
}
echo "all checks passed\n";
