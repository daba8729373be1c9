// SPDX-License-Identifier: GPL-2.0
/*
 * vigil_crash - triggers one real kernel fault when it is loaded, so that
 * the console reports of a real kernel can be captured and used as test
 * material for vigil's console crash detector.
 *
 *   insmod vigil_crash.ko trigger=NAME [seconds=N]
 *
 * NAME is one of: warn bug null gpf divide softlockup hungtask rcustall
 * refcount listcorrupt atomicsleep panic softirq doublefree pagefault
 * invalidop stackprotector netdevrefcnt kfence.
 *
 * Each fault lives in its own noinline function named vigil_crash_NAME (the
 * softirq one in vigil_crash_timer_fn) so that it is recognisable in stack
 * traces. The module has no exit function: once loaded it stays loaded,
 * which keeps the code of a lockup thread or a timer valid.
 */
#include <linux/bug.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kfence.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>

static char *trigger = "warn";
module_param(trigger, charp, 0444);
MODULE_PARM_DESC(trigger, "fault to trigger on load");

static int seconds = 6;
module_param(seconds, int, 0444);
MODULE_PARM_DESC(seconds, "how long softlockup and rcustall spin");

static int divisor;
module_param(divisor, int, 0444);
MODULE_PARM_DESC(divisor, "divisor of the divide trigger (0: divide error)");

struct vigil_crash_obj {
	unsigned long magic;
	struct list_head node;
	unsigned long value;
};

/* Read at run time, so that the compiler cannot prove the condition. */
static volatile int vigil_crash_on = 1;

static noinline void vigil_crash_warn(void)
{
	WARN_ON(vigil_crash_on);
}

static noinline void vigil_crash_bug(void)
{
	if (vigil_crash_on)
		BUG();
}

static noinline unsigned long vigil_crash_null(void)
{
	struct vigil_crash_obj *obj = NULL;

	OPTIMIZER_HIDE_VAR(obj);
	return READ_ONCE(obj->value);
}

static noinline unsigned long vigil_crash_gpf(void)
{
	/* Non-canonical: the CPU raises #GP instead of a page fault. */
	unsigned long *p = (unsigned long *)0xdead000000000100UL;

	OPTIMIZER_HIDE_VAR(p);
	return READ_ONCE(*p);
}

static noinline int vigil_crash_divide(void)
{
	volatile int d = divisor;

	return 1000 / d;
}

/*
 * Lockups run in a kthread: the stuck stack is then the thread's own
 * (vigil_crash_NAME <- kthread), not the module loader's.
 */
static noinline int vigil_crash_softlockup(void *unused)
{
	unsigned long end = jiffies + seconds * HZ;

	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
	return 0;
}

static noinline int vigil_crash_rcustall(void *unused)
{
	unsigned long end;

	/* A stall is only detected while a grace period is in progress. */
	start_poll_synchronize_rcu();
	end = jiffies + seconds * HZ;
	rcu_read_lock();
	preempt_disable();
	while (time_before(jiffies, end))
		cpu_relax();
	preempt_enable();
	rcu_read_unlock();
	return 0;
}

static DECLARE_COMPLETION(vigil_crash_never);

static noinline void vigil_crash_hungtask(void)
{
	/* Nobody completes it: the loading task waits in D state forever. */
	wait_for_completion(&vigil_crash_never);
}

static noinline void vigil_crash_refcount(void)
{
	refcount_t ref = REFCOUNT_INIT(1);

	if (refcount_dec_and_test(&ref))
		pr_info("vigil_crash: last reference dropped\n");
	/* One put too many: refcount_t underflow. */
	if (refcount_dec_and_test(&ref))
		pr_info("vigil_crash: last reference dropped again\n");
}

static noinline void vigil_crash_listcorrupt(void)
{
	static LIST_HEAD(head);
	static struct vigil_crash_obj obj;

	list_add(&obj.node, &head);
	list_del(&obj.node);
	/* obj.node.next is LIST_POISON1 now: CONFIG_DEBUG_LIST reports it. */
	list_del(&obj.node);
}

static DEFINE_SPINLOCK(vigil_crash_lock);

static noinline void vigil_crash_atomicsleep(void)
{
	spin_lock(&vigil_crash_lock);
	schedule_timeout_uninterruptible(msecs_to_jiffies(10));
	/*
	 * The scheduler reported the bug and reset the preemption count;
	 * restore the lock's share so that the unlock balances.
	 */
	if (!preempt_count())
		preempt_count_inc();
	spin_unlock(&vigil_crash_lock);
}

static noinline void vigil_crash_panic(void)
{
	panic("vigil_crash: requested panic");
}

static struct timer_list vigil_crash_timer;

static noinline void vigil_crash_timer_fn(struct timer_list *timer)
{
	struct vigil_crash_obj *obj = NULL;

	OPTIMIZER_HIDE_VAR(obj);
	WRITE_ONCE(obj->value, READ_ONCE(obj->value) + 1);
}

static noinline void vigil_crash_softirq(void)
{
	timer_setup(&vigil_crash_timer, vigil_crash_timer_fn, 0);
	mod_timer(&vigil_crash_timer, jiffies + 1);
	/* The oops in the timer kills the kernel before this returns. */
	msleep(2000);
}

static noinline void vigil_crash_doublefree(void)
{
	void *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);
	kfree(p);
}

static noinline unsigned long vigil_crash_pagefault(void)
{
	/*
	 * A one-page vmalloc area is followed by an unmapped guard page: a
	 * canonical kernel address that is not NULL-ish and never mapped.
	 */
	unsigned long *p = vmalloc(PAGE_SIZE);

	if (!p)
		return 0;
	p += PAGE_SIZE / sizeof(*p);
	OPTIMIZER_HIDE_VAR(p);
	return READ_ONCE(*p);
}

static noinline void vigil_crash_invalidop(void)
{
	/* A bare ud2 with no __bug_table entry: #UD, not BUG(). */
	if (vigil_crash_on)
		asm volatile("ud2");
}

static noinline void vigil_crash_stackprotector(void)
{
	char buf[16];
	char *p = buf;
	size_t i, len = sizeof(buf) + sizeof(unsigned long);

	/*
	 * The compiler sees neither the target nor the length: the stores
	 * stay, run one word past buf and overwrite the stack canary that
	 * CONFIG_STACKPROTECTOR_STRONG puts right above it.
	 */
	OPTIMIZER_HIDE_VAR(p);
	OPTIMIZER_HIDE_VAR(len);
	for (i = 0; i < len; i++)
		WRITE_ONCE(p[i], 'V');
	pr_info("vigil_crash: wrote %zu bytes into a %zu byte buffer\n",
		len, sizeof(buf));
}

static netdev_tx_t vigil_crash_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev_kfree_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops vigil_crash_netdev_ops = {
	.ndo_start_xmit = vigil_crash_xmit,
};

static void vigil_crash_netdev_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &vigil_crash_netdev_ops;
}

static noinline int vigil_crash_netdevrefcnt(void *data)
{
	/*
	 * The reference taken by vigil_crash_netdev() is never dropped: the
	 * unregistration waits forever and complains every 10 seconds.
	 */
	unregister_netdev(data);
	return 0;
}

static int vigil_crash_netdev(void)
{
	struct net_device *dev;
	struct task_struct *t;
	int err;

	dev = alloc_netdev(0, "vigil%d", NET_NAME_ENUM, vigil_crash_netdev_setup);
	if (!dev)
		return -ENOMEM;
	eth_hw_addr_random(dev);
	err = register_netdev(dev);
	if (err) {
		free_netdev(dev);
		return err;
	}
	dev_hold(dev);
	/* Unregister from a kthread, so that the module load returns. */
	t = kthread_run(vigil_crash_netdevrefcnt, dev, "vigil_netdev");
	return IS_ERR(t) ? PTR_ERR(t) : 0;
}

static noinline unsigned long vigil_crash_kfence(void)
{
	unsigned long *p = NULL;
	int i;

	/*
	 * With kfence.sample_interval=1 one allocation per sample interval
	 * comes from the KFENCE pool: allocate until one of ours does.
	 */
	for (i = 0; i < 5000; i++) {
		unsigned long *q = kmalloc(32, GFP_KERNEL);

		if (q && is_kfence_address(q)) {
			p = q;
			break;
		}
		kfree(q);
		usleep_range(500, 1000);
	}
	if (!p) {
		pr_err("vigil_crash: no KFENCE allocation (is KFENCE on?)\n");
		return 0;
	}
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);
	/* The freed object's page is protected: KFENCE reports the read. */
	return READ_ONCE(*p);
}

static int vigil_crash_thread(int (*fn)(void *), const char *name)
{
	struct task_struct *t = kthread_run(fn, NULL, "%s", name);

	return IS_ERR(t) ? PTR_ERR(t) : 0;
}

static int __init vigil_crash_init(void)
{
	pr_info("vigil_crash: trigger=%s\n", trigger);

	if (sysfs_streq(trigger, "warn"))
		vigil_crash_warn();
	else if (sysfs_streq(trigger, "bug"))
		vigil_crash_bug();
	else if (sysfs_streq(trigger, "null"))
		pr_info("vigil_crash: read %lu\n", vigil_crash_null());
	else if (sysfs_streq(trigger, "gpf"))
		pr_info("vigil_crash: read %lu\n", vigil_crash_gpf());
	else if (sysfs_streq(trigger, "divide"))
		pr_info("vigil_crash: quotient %d\n", vigil_crash_divide());
	else if (sysfs_streq(trigger, "softlockup"))
		return vigil_crash_thread(vigil_crash_softlockup, "vigil_lockup");
	else if (sysfs_streq(trigger, "rcustall"))
		return vigil_crash_thread(vigil_crash_rcustall, "vigil_rcustall");
	else if (sysfs_streq(trigger, "hungtask"))
		vigil_crash_hungtask();
	else if (sysfs_streq(trigger, "refcount"))
		vigil_crash_refcount();
	else if (sysfs_streq(trigger, "listcorrupt"))
		vigil_crash_listcorrupt();
	else if (sysfs_streq(trigger, "atomicsleep"))
		vigil_crash_atomicsleep();
	else if (sysfs_streq(trigger, "panic"))
		vigil_crash_panic();
	else if (sysfs_streq(trigger, "softirq"))
		vigil_crash_softirq();
	else if (sysfs_streq(trigger, "doublefree"))
		vigil_crash_doublefree();
	else if (sysfs_streq(trigger, "pagefault"))
		pr_info("vigil_crash: read %lu\n", vigil_crash_pagefault());
	else if (sysfs_streq(trigger, "invalidop"))
		vigil_crash_invalidop();
	else if (sysfs_streq(trigger, "stackprotector"))
		vigil_crash_stackprotector();
	else if (sysfs_streq(trigger, "netdevrefcnt"))
		return vigil_crash_netdev();
	else if (sysfs_streq(trigger, "kfence"))
		pr_info("vigil_crash: read %lu\n", vigil_crash_kfence());
	else {
		pr_err("vigil_crash: unknown trigger '%s'\n", trigger);
		return -EINVAL;
	}
	return 0;
}
module_init(vigil_crash_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Triggers one kernel fault on load, for console crash tests");
