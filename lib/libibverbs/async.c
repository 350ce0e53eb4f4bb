// SPDX-License-Identifier: MIT
/*
 * Async events. The daemon writes whole ib_uverbs_async_event_desc records
 * to the context's async_fd (a SOCK_SEQPACKET socket). 'element' is the
 * user_handle the library gave when creating the object, which is the
 * address of its ibv_qp/ibv_cq/ibv_srq/ibv_wq; for port events it is the
 * port number.
 *
 * Acks count completed events per object so destroy can wait until every
 * event handed to the application was acknowledged, as rdma-core does.
 *
 * When the daemon dies its end of the async socket closes: the application
 * polling async_fd wakes (EOF is readable) and gets IBV_EVENT_DEVICE_FATAL,
 * once per context, as from a kernel device that was disassociated; after
 * that reads fail with EIO. The context's QPs are flushed (fate.c).
 */
#include <unistd.h>

#include "svl.h"

static bool event_is_qp(enum ibv_event_type t)
{
	switch (t) {
	case IBV_EVENT_QP_FATAL:
	case IBV_EVENT_QP_REQ_ERR:
	case IBV_EVENT_QP_ACCESS_ERR:
	case IBV_EVENT_COMM_EST:
	case IBV_EVENT_SQ_DRAINED:
	case IBV_EVENT_PATH_MIG:
	case IBV_EVENT_PATH_MIG_ERR:
	case IBV_EVENT_QP_LAST_WQE_REACHED:
		return true;
	default:
		return false;
	}
}

/* EOF or a torn record: the daemon is gone. Report it once. */
static int device_fatal(struct ibv_context *context,
			struct ibv_async_event *event)
{
	struct svl_context *ctx = to_svl_ctx(context);

	svl_fate_dead(ctx);
	if (atomic_exchange(&ctx->fatal_reported, true)) {
		errno = EIO;
		return -1;
	}
	event->event_type = IBV_EVENT_DEVICE_FATAL;
	event->element.port_num = 0;
	return 0;
}

SVL_EXPORT int ibv_get_async_event(struct ibv_context *context,
				   struct ibv_async_event *event)
{
	struct ib_uverbs_async_event_desc ev;
	void *obj;
	ssize_t n;

	do {
		n = read(context->async_fd, &ev, sizeof(ev));
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != ECONNRESET)
		return -1;
	if (n != sizeof(ev))
		return device_fatal(context, event);
	obj = (void *)(uintptr_t)ev.element;
	event->event_type = (enum ibv_event_type)ev.event_type;
	if (event->event_type == IBV_EVENT_CQ_ERR)
		event->element.cq = obj;
	else if (event_is_qp(event->event_type))
		event->element.qp = obj;
	else if (event->event_type == IBV_EVENT_SRQ_ERR ||
		 event->event_type == IBV_EVENT_SRQ_LIMIT_REACHED)
		event->element.srq = obj;
	else if (event->event_type == IBV_EVENT_WQ_FATAL)
		event->element.wq = obj;
	else
		event->element.port_num = (int)ev.element;
	return 0;
}

SVL_EXPORT void ibv_ack_async_event(struct ibv_async_event *event)
{
	enum ibv_event_type t = event->event_type;

	if (t == IBV_EVENT_CQ_ERR && event->element.cq) {
		struct ibv_cq *cq = event->element.cq;

		pthread_mutex_lock(&cq->mutex);
		cq->async_events_completed++;
		pthread_cond_signal(&cq->cond);
		pthread_mutex_unlock(&cq->mutex);
	} else if (event_is_qp(t) && event->element.qp) {
		struct ibv_qp *qp = event->element.qp;

		pthread_mutex_lock(&qp->mutex);
		qp->events_completed++;
		pthread_cond_signal(&qp->cond);
		pthread_mutex_unlock(&qp->mutex);
	} else if ((t == IBV_EVENT_SRQ_ERR ||
		    t == IBV_EVENT_SRQ_LIMIT_REACHED) && event->element.srq) {
		struct ibv_srq *srq = event->element.srq;

		pthread_mutex_lock(&srq->mutex);
		srq->events_completed++;
		pthread_cond_signal(&srq->cond);
		pthread_mutex_unlock(&srq->mutex);
	} else if (t == IBV_EVENT_WQ_FATAL && event->element.wq) {
		struct ibv_wq *wq = event->element.wq;

		pthread_mutex_lock(&wq->mutex);
		wq->events_completed++;
		pthread_cond_signal(&wq->cond);
		pthread_mutex_unlock(&wq->mutex);
	}
}
