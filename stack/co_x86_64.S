/* Context switch for x86-64 SysV. Saves what the ABI says a callee must
 * preserve: rbx, rbp, r12-r15, the stack pointer, the resume address (the
 * return address already on the stack), MXCSR and the x87 control word.
 *
 * Saved frame, from the saved stack pointer upward:
 *   +0  x87 control word (2 bytes, 8 reserved)   +8  MXCSR (4 bytes, 8 reserved)
 *   +16 r15  +24 r14  +32 r13  +40 r12  +48 rbx  +56 rbp  +64 return address
 */
	.text
	.globl	demi_co_swap
	.hidden	demi_co_swap
	.type	demi_co_swap, @function
/* void demi_co_swap(void **save_sp (rdi), void *load_sp (rsi)) */
demi_co_swap:
	.cfi_startproc
	endbr64
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$16, %rsp
	stmxcsr	8(%rsp)
	fnstcw	(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	8(%rsp)
	fldcw	(%rsp)
	addq	$16, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	demi_co_swap, .-demi_co_swap

	.globl	demi_co_trampoline
	.hidden	demi_co_trampoline
	.type	demi_co_trampoline, @function
/* First resume of a new coroutine lands here with its struct co in rbx and
 * a 16-byte aligned stack. demi_co_entry never returns. */
demi_co_trampoline:
	endbr64
	movq	%rbx, %rdi
	call	demi_co_entry
	ud2
	.size	demi_co_trampoline, .-demi_co_trampoline

	.section .note.GNU-stack, "", @progbits
