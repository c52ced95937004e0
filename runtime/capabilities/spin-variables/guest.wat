;; A fast-world guest that imports Spin's variables interface: `GET /<name>` answers the value of
;; `fermyon:spin/variables.get(<name>)`, or `<error case>: <message>` when it fails. Hand-written
;; so the test depends on no guest toolchain; spin-variables.test.ts builds it with wasm-tools.
;;
;; Canonical ABI: the request record arrives flat (method, path, authority, headers, body: a
;; pointer and a length each); the response record is returned through memory (status u16 at 0,
;; headers at 4/8, body at 12/16). `get` writes result<string, error> to its return area:
;; discriminant at 0, then the string (ok) or the error's case at 4 and its string at 8/12.
(module
  (import "fermyon:spin/variables@2.0.0" "get" (func $get (param i32 i32 i32)))
  (memory (export "memory") 1)

  ;; Each error case's prefix, and a table of (pointer, length) by case.
  (data (i32.const 600) "invalid-name: ")
  (data (i32.const 616) "undefined: ")
  (data (i32.const 628) "provider: ")
  (data (i32.const 640) "other: ")
  (data (i32.const 512) "\58\02\00\00\0e\00\00\00\68\02\00\00\0b\00\00\00\74\02\00\00\0a\00\00\00\80\02\00\00\07\00\00\00")

  (global $ret i32 (i32.const 128))
  (global $answer i32 (i32.const 256))
  (global $heap (mut i32) (i32.const 1024))

  (func $alloc (param $size i32) (result i32)
    (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $size)))

  (func (export "wasmgate:edge/handler@0.1.0#handle")
    (param $method i32) (param $method-len i32) (param $path i32) (param $path-len i32)
    (param $authority i32) (param $authority-len i32) (param $headers i32) (param $headers-len i32)
    (param $body i32) (param $body-len i32) (result i32)
    (local $name i32) (local $name-len i32) (local $out i32) (local $out-len i32)
    (local $case i32) (local $prefix i32) (local $prefix-len i32) (local $msg i32) (local $msg-len i32)
    ;; The name is the path without its leading slash, up to a query.
    (local.set $name (i32.add (local.get $path) (i32.const 1)))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $name-len) (i32.sub (local.get $path-len) (i32.const 1))))
        (br_if $done (i32.eq (i32.load8_u (i32.add (local.get $name) (local.get $name-len))) (i32.const 63)))
        (local.set $name-len (i32.add (local.get $name-len) (i32.const 1)))
        (br $scan)))
    (call $get (local.get $name) (local.get $name-len) (global.get $ret))
    (if (i32.eqz (i32.load8_u (global.get $ret)))
      (then
        (local.set $out (i32.load offset=4 (global.get $ret)))
        (local.set $out-len (i32.load offset=8 (global.get $ret))))
      (else
        (local.set $case (i32.load8_u offset=4 (global.get $ret)))
        (local.set $msg (i32.load offset=8 (global.get $ret)))
        (local.set $msg-len (i32.load offset=12 (global.get $ret)))
        (local.set $prefix (i32.load (i32.add (i32.const 512) (i32.shl (local.get $case) (i32.const 3)))))
        (local.set $prefix-len (i32.load offset=4 (i32.add (i32.const 512) (i32.shl (local.get $case) (i32.const 3)))))
        (local.set $out-len (i32.add (local.get $prefix-len) (local.get $msg-len)))
        (local.set $out (call $alloc (local.get $out-len)))
        (memory.copy (local.get $out) (local.get $prefix) (local.get $prefix-len))
        (memory.copy (i32.add (local.get $out) (local.get $prefix-len)) (local.get $msg) (local.get $msg-len))))
    (i32.store16 (global.get $answer) (i32.const 200))
    (i32.store offset=4 (global.get $answer) (i32.const 0))
    (i32.store offset=8 (global.get $answer) (i32.const 0))
    (i32.store offset=12 (global.get $answer) (local.get $out))
    (i32.store offset=16 (global.get $answer) (local.get $out-len))
    (global.get $answer))

  ;; A bump allocator: the host copies the request's strings and `get`'s results in through it.
  (func $realloc (export "cabi_realloc")
    (param $old-ptr i32) (param $old-size i32) (param $align i32) (param $new-size i32) (result i32)
    (local $ptr i32) (local $end i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $new-size)))
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.sub
                  (i32.shr_u (i32.add (local.get $end) (i32.const 0xffff)) (i32.const 16))
                  (memory.size)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (if (local.get $old-ptr)
      (then (memory.copy (local.get $ptr) (local.get $old-ptr) (local.get $old-size))))
    (local.get $ptr)))
