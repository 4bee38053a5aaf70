import { redirect } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';

// django-celery-beat's app index: the periodic tasks are what staff come for.
export const load: PageServerLoad = () => redirect(307, '/admin/django_celery_beat/periodictask/');
